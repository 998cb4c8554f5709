"""The Gradio app. `handlers` holds the logic (no Gradio import); the `*_tab` modules
only lay out components and wire them to handlers; `layout.build_demo` joins the tabs."""
