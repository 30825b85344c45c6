"""Training: the state pytree, the phase step functions and the loop."""
