"""Code our operator and sensor share (tracking a run, the extra link), as the provider's ``utils/``.

Operators and sensors both import from here, never from each other.
"""
