"""ppio-txt2img: the Python SDK for the PPIO / Novita v3 async text-to-image API."""
