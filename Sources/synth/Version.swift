// The version `synth --version` prints.

/// Bumped when a release changes what the command line or the voice files mean.
let synthVersion = "0.2.0"
