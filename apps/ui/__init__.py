"""Streamlit pages, one per app; each app module (`python -m apps.<name>`) starts Streamlit on its page.

The pages live in their own folder because Streamlit puts a page's folder first on `sys.path`:
beside the app modules, `apps/tokenizers.py` would hide the `tokenizers` package.
"""
