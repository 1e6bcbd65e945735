"""Retrieval parts: loading, chunking, embedding stores and retrievers."""
