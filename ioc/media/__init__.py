"""Photo evidence of cases: the image work (`images`) and the upload service (`service`)."""
