"""Reports and analysis over the record (PostgreSQL) with pandas and geopandas (issue 17).

- `geo`: the city's GIS layers (read and write) and the exports of cases, devices and alarms as
  GeoPackage and GeoJSON for the city's GIS staff.
- `density`: case density per unit-grid cell and per district for any period.
"""
