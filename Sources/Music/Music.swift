// Music module: transformer and music model over MIDI event tokens, FluidSynth rendering.
