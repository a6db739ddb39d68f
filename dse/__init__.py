"""spikefab.dse — design-space exploration on Dask: sweep specification, tasks, result cache,
sweep orchestration, reports, Pareto fronts, resource and energy estimators."""
