"""Investigation and learning: what an incident cites, re-read and recomputed; its history; reviews.

``history`` folds the incident stream (detection lifecycle events and human actions) into
each incident's state; ``actions`` builds the action CloudEvents; ``sources`` re-reads the
events an incident cites (file lines, Kafka offsets); ``rebuild`` gets the reference the
incident was judged against; ``recompute`` evaluates windows with the engine's own stages;
``explain`` puts it together, ``plots`` and ``report`` render it; ``review`` and ``learning``
turn histories into post-incident reviews.
"""
