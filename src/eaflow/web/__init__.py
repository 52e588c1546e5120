"""The web workspace: French pages rendered on the server (Jinja2), over the same services as the API.

Pages never call the API over HTTP and never import it: both faces import `eaflow.services`.
"""
