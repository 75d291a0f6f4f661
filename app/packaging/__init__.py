"""Deployment packages of streamkit: the Lambda zip of the API (``streamkit package lambda``)."""
