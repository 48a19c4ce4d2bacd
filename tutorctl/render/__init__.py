"""Display: read models in, rich renderables or JSON out. The only place that imports rich."""
