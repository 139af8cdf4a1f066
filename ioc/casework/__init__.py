"""Case work: the service over the workflow and the store, report intake, the case worker."""
