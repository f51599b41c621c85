"""The console's screens: the dashboard, details, forms, help, logs and lists."""
