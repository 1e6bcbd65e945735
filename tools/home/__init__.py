"""Home automation: the device domain, a Home Assistant REST client and the agent tools built from exposed entities."""
