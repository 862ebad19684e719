"""Reference implementations of six families of generative models (PyTorch, no Django)."""
