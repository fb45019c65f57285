"""The web application: app factory, error mapping, security headers, reporter pages."""
