"""What both sides of the wire share: the case reader and the workflow record formats.

Client and server code may both import it; server code never imports ``client/``.
"""
