// DSP module.
