"""FLEXUS Guardia: runs the FLEXUS outage protocol in the team's Telegram group."""
