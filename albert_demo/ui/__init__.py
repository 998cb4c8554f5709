"""The Gradio app: the `*_tab` modules only lay out components and wire them to the
services (`albert_demo.services`, `albert_demo.finetune.FinetuneService`) handed to them in
a `UIContext`; `layout.build_demo` joins the tabs and registers the API."""
