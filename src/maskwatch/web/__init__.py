"""The static page that runs the shipped models in the browser (ONNX Runtime Web): `export-web`."""
