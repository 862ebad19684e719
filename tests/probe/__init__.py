"""Test-only additions to a real stack: a ``ping`` task and the ``/ws/probe/<token>/`` socket.

They prove that a worker process picks messages from Redis and that the channel layer is shared
between the worker and the web server. A stack gets them by running with the settings module
``tests.probe.settings``; production code knows nothing of them.
"""
