// WaveNet module.
