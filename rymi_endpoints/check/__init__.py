"""A simulated Rymi gateway: check that endpoints speak the custom-endpoint contract."""
