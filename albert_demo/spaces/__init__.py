"""Running on, and deploying to, Hugging Face Spaces: `storage` picks where a Space keeps its
data, `deploy` uploads this repository as a Gradio Space."""
