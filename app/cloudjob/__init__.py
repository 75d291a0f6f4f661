"""The stream job in the clouds: start, watch and stop it on a deployed stack."""
