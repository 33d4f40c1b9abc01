"""Settings, logging, the stack launcher, the bootstrap and the CLI."""
