/**
 * Media types that service-stac accepts for assets, with the file extensions allowed for each.
 * Source: `MEDIA_TYPES` in app/stac_api/validators.py of geoadmin/service-stac.
 * Keys are in the normalized form that {@link normalizeMediaType} returns.
 */
export const SUPPORTED_MEDIA_TYPES: Readonly<Record<string, readonly string[]>> = {
  'application/vnd.apache.parquet': ['.parquet'],
  'application/x.ascii-grid+zip': ['.zip'],
  'application/x.ascii-xyz+zip': ['.zip'],
  'application/x.e00+zip': ['.zip'],
  'application/x.geotiff+zip': ['.zip'],
  'image/tiff; application=geotiff': ['.tiff', '.tif'],
  'application/x.tiff+zip': ['.zip'],
  'application/x.png+zip': ['.zip'],
  'application/x.jpeg+zip': ['.zip'],
  'application/vnd.google-earth.kml+xml': ['.kml'],
  'application/vnd.google-earth.kmz': ['.kmz'],
  'application/x.dxf+zip': ['.zip'],
  'application/gml+xml': ['.gml', '.xml'],
  'application/x.gml+zip': ['.zip'],
  'application/vnd.las': ['.las'],
  'application/vnd.laszip': ['.laz', '.zip'],
  'application/x.vnd.las+zip': ['.zip'],
  'application/vnd.laszip+copc': ['.zip'],
  'application/x.shapefile+zip': ['.zip'],
  'application/x.filegdb+zip': ['.zip'],
  'application/x.filegdbp+zip': ['.zip'],
  'application/x.ms-access+zip': ['.zip'],
  'application/x.ms-excel+zip': ['.zip'],
  'application/x.tab+zip': ['.zip'],
  'application/x.tab-raster+zip': ['.zip'],
  'application/x.csv+zip': ['.zip'],
  'text/csv': ['.csv'],
  'application/geopackage+sqlite3': ['.gpkg'],
  'application/x.geopackage+zip': ['.zip'],
  'application/geo+json': ['.json', '.geojson'],
  'application/x.geojson+zip': ['.zip'],
  'application/x.interlis; version=2.3': ['.xtf', '.xml'],
  'application/x.interlis+zip; version=2.3': ['.zip'],
  'application/x.interlis; version=2.4': ['.xtf', '.xml'],
  'application/x.interlis+zip; version=2.4': ['.zip'],
  'application/x.interlis; version=1': ['.itf'],
  'application/x.interlis+zip; version=1': ['.zip'],
  'image/tiff; application=geotiff; profile=cloud-optimized': ['.tiff', '.tif'],
  'application/pdf': ['.pdf'],
  'application/x.pdf+zip': ['.zip'],
  'application/json': ['.json'],
  'application/x.json+zip': ['.zip'],
  'application/x-netcdf': ['.nc'],
  'application/x.netcdf+zip': ['.zip'],
  'application/xml': ['.xml'],
  'application/x.xml+zip': ['.zip'],
  'application/vnd.mapbox-vector-tile': ['.mbtiles'],
  'text/plain': ['.txt'],
  'text/x.plain+zip': ['.zip'],
  'application/x.dwg+zip': ['.zip'],
  'application/zip': ['.zip'],
  'image/tiff': ['.tiff', '.tif'],
  'image/jpeg': ['.jpeg', '.jpg'],
  'image/png': ['.png'],
  'application/vnd.sqlite3': ['.sqlite'],
};

const TOKEN = "[0-9A-Za-z!#$%&'*+.^_`|~-]+";
const MEDIA_TYPE_PATTERN = new RegExp(
  `^(${TOKEN}/${TOKEN})((?:[ \\t]*;[ \\t]*${TOKEN}=${TOKEN})*)$`,
);
const PARAMETER_PATTERN = new RegExp(`[ \\t]*;[ \\t]*(${TOKEN})=(${TOKEN})`, 'g');

/**
 * Normalizes a media type as service-stac does: type, subtype and parameter names in
 * lowercase, parameters sorted and joined with `"; "`, parameter values unchanged.
 * Returns undefined for a malformed media type (quoted parameter values count as malformed).
 */
export function normalizeMediaType(mediaType: string): string | undefined {
  const match = MEDIA_TYPE_PATTERN.exec(mediaType);
  if (!match) {
    return undefined;
  }
  const parameters = [...match[2].matchAll(PARAMETER_PATTERN)]
    .map(([, name, value]) => `; ${name.toLowerCase()}=${value}`)
    .sort();
  return match[1].toLowerCase() + parameters.join('');
}
