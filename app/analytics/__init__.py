"""Analytics on the KPI series, free of any UI or store: shared by the dashboard and the alerts."""
