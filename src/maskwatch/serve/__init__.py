"""Web service and page (optional extra: pip install 'maskwatch[serve]')."""
