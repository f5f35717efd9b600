"""The Genova studio: a Gradio app that talks to the API only through ``genova_client``."""
