"""The reward as a service: the HTTP server (``server``, ``requests``), cross-request batching (``batcher``),
Prometheus metrics (``metrics``), its benchmark (``bench``) and the verl reward function (``verl``, standard library
only; ``endorm.integrations.verl`` is its documented path)."""
