/// The release this build calls itself (reports, the Jupyter kernel's banner, `alvlm --version`).
public let alvlmVersion = "0.7.0"
