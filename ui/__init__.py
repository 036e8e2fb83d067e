"""The thin layer between Streamlit pages and core: cached resources and shared widgets."""
