"""Developer tools: the local dev stack launcher and publisher bots."""
