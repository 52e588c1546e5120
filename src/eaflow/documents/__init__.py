"""Documents rendered from Jinja2 templates to HTML and PDF (the convention individuelle, R10)."""
