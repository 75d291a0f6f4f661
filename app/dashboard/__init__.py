"""The Streamlit dashboard (``streamkit dashboard``): reads only through the KPI API over HTTP."""
