"""The benchmarks (``vaxreg bench ...``): each verb drives the rooms it measures through their public
services and pages, on a scratch database (``scratch``), from above every room, so no room carries
measuring code in its own paths."""
