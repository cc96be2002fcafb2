"""Test support, apart from the tests, the bench and the demo: generated workspaces (`workspaces`,
`shapes`), the simulated multi-stage Docker flow (`flow`), the zipapp builder (`zipapp`), real Docker
engines (`docker_engine`, `runners`) and registry (`registry`), and the bad-input lab (`bad_input`)."""
