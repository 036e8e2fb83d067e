"""Embedding Lab core: everything that thinks. Never imports streamlit."""
