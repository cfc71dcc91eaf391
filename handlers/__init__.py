"""Thin Telegram adapters: read the update, check who may act, call a service, render, send."""
