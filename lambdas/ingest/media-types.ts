import { InvalidMetadataError, UnsupportedMediaTypeError } from './errors';

/** A media type the STAC API accepts for asset files, with the asset id extensions it allows. */
export interface SupportedMediaType {
  /** Media type in the API's normalised form (see {@link normalizeMediaType}). */
  readonly mediaType: string;
  readonly description: string;
  /** Extensions, with the leading dot, that an asset id of this type may end in. */
  readonly extensions: readonly string[];
}

/**
 * Media types the STAC API (geoadmin service-stac, API v1) accepts for assets, in the order of
 * the server's validator list. An asset id must end in one of its type's extensions.
 */
export const MEDIA_TYPES = [
  {
    mediaType: 'application/vnd.apache.parquet',
    description: 'Apache Parquet',
    extensions: ['.parquet'],
  },
  {
    mediaType: 'application/x.ascii-grid+zip',
    description: 'Zipped ESRI ASCII grid (.asc)',
    extensions: ['.zip'],
  },
  { mediaType: 'application/x.ascii-xyz+zip', description: 'Zipped XYZ', extensions: ['.zip'] },
  { mediaType: 'application/x.e00+zip', description: 'Zipped E00', extensions: ['.zip'] },
  { mediaType: 'application/x.geotiff+zip', description: 'Zipped GeoTIFF', extensions: ['.zip'] },
  {
    mediaType: 'image/tiff; application=geotiff',
    description: 'GeoTIFF',
    extensions: ['.tiff', '.tif'],
  },
  { mediaType: 'application/x.tiff+zip', description: 'Zipped TIFF', extensions: ['.zip'] },
  { mediaType: 'application/x.png+zip', description: 'Zipped PNG', extensions: ['.zip'] },
  { mediaType: 'application/x.jpeg+zip', description: 'Zipped JPEG', extensions: ['.zip'] },
  { mediaType: 'application/vnd.google-earth.kml+xml', description: 'KML', extensions: ['.kml'] },
  { mediaType: 'application/vnd.google-earth.kmz', description: 'KMZ', extensions: ['.kmz'] },
  { mediaType: 'application/x.dxf+zip', description: 'Zipped DXF', extensions: ['.zip'] },
  { mediaType: 'application/gml+xml', description: 'GML', extensions: ['.gml', '.xml'] },
  { mediaType: 'application/x.gml+zip', description: 'Zipped GML', extensions: ['.zip'] },
  { mediaType: 'application/vnd.las', description: 'LAS point cloud', extensions: ['.las'] },
  {
    mediaType: 'application/vnd.laszip',
    description: 'LAZ compressed point cloud',
    extensions: ['.laz', '.zip'],
  },
  { mediaType: 'application/x.vnd.las+zip', description: 'Zipped LAS', extensions: ['.zip'] },
  {
    mediaType: 'application/vnd.laszip+copc',
    description: 'Cloud optimized point cloud (COPC)',
    extensions: ['.zip'],
  },
  {
    mediaType: 'application/x.shapefile+zip',
    description: 'Zipped shapefile',
    extensions: ['.zip'],
  },
  {
    mediaType: 'application/x.filegdb+zip',
    description: 'Zipped file geodatabase',
    extensions: ['.zip'],
  },
  {
    mediaType: 'application/x.filegdbp+zip',
    description: 'Zipped file geodatabase (ArcGIS Pro)',
    extensions: ['.zip'],
  },
  {
    mediaType: 'application/x.ms-access+zip',
    description: 'Zipped personal geodatabase (MS Access)',
    extensions: ['.zip'],
  },
  { mediaType: 'application/x.ms-excel+zip', description: 'Zipped Excel', extensions: ['.zip'] },
  { mediaType: 'application/x.tab+zip', description: 'Zipped MapInfo TAB', extensions: ['.zip'] },
  {
    mediaType: 'application/x.tab-raster+zip',
    description: 'Zipped MapInfo raster TAB',
    extensions: ['.zip'],
  },
  { mediaType: 'application/x.csv+zip', description: 'Zipped CSV', extensions: ['.zip'] },
  { mediaType: 'text/csv', description: 'CSV', extensions: ['.csv'] },
  { mediaType: 'application/geopackage+sqlite3', description: 'GeoPackage', extensions: ['.gpkg'] },
  {
    mediaType: 'application/x.geopackage+zip',
    description: 'Zipped GeoPackage',
    extensions: ['.zip'],
  },
  { mediaType: 'application/geo+json', description: 'GeoJSON', extensions: ['.json', '.geojson'] },
  { mediaType: 'application/x.geojson+zip', description: 'Zipped GeoJSON', extensions: ['.zip'] },
  {
    mediaType: 'application/x.interlis; version=2.3',
    description: 'INTERLIS 2.3 transfer file (XTF)',
    extensions: ['.xtf', '.xml'],
  },
  {
    mediaType: 'application/x.interlis+zip; version=2.3',
    description: 'Zipped INTERLIS 2.3 transfer file (XTF)',
    extensions: ['.zip'],
  },
  {
    mediaType: 'application/x.interlis; version=2.4',
    description: 'INTERLIS 2.4 transfer file (XTF)',
    extensions: ['.xtf', '.xml'],
  },
  {
    mediaType: 'application/x.interlis+zip; version=2.4',
    description: 'Zipped INTERLIS 2.4 transfer file (XTF)',
    extensions: ['.zip'],
  },
  {
    mediaType: 'application/x.interlis; version=1',
    description: 'INTERLIS 1 transfer file (ITF)',
    extensions: ['.itf'],
  },
  {
    mediaType: 'application/x.interlis+zip; version=1',
    description: 'Zipped INTERLIS 1 transfer file (ITF)',
    extensions: ['.zip'],
  },
  {
    mediaType: 'image/tiff; application=geotiff; profile=cloud-optimized',
    description: 'Cloud optimized GeoTIFF (COG)',
    extensions: ['.tiff', '.tif'],
  },
  { mediaType: 'application/pdf', description: 'PDF', extensions: ['.pdf'] },
  { mediaType: 'application/x.pdf+zip', description: 'Zipped PDF', extensions: ['.zip'] },
  { mediaType: 'application/json', description: 'JSON', extensions: ['.json'] },
  { mediaType: 'application/x.json+zip', description: 'Zipped JSON', extensions: ['.zip'] },
  { mediaType: 'application/x-netcdf', description: 'NetCDF', extensions: ['.nc'] },
  { mediaType: 'application/x.netcdf+zip', description: 'Zipped NetCDF', extensions: ['.zip'] },
  { mediaType: 'application/xml', description: 'XML', extensions: ['.xml'] },
  { mediaType: 'application/x.xml+zip', description: 'Zipped XML', extensions: ['.zip'] },
  {
    mediaType: 'application/vnd.mapbox-vector-tile',
    description: 'MBTiles',
    extensions: ['.mbtiles'],
  },
  { mediaType: 'text/plain', description: 'Plain text', extensions: ['.txt'] },
  { mediaType: 'text/x.plain+zip', description: 'Zipped plain text', extensions: ['.zip'] },
  { mediaType: 'application/x.dwg+zip', description: 'Zipped DWG', extensions: ['.zip'] },
  { mediaType: 'application/zip', description: 'Generic ZIP archive', extensions: ['.zip'] },
  { mediaType: 'image/tiff', description: 'TIFF', extensions: ['.tiff', '.tif'] },
  { mediaType: 'image/jpeg', description: 'JPEG', extensions: ['.jpeg', '.jpg'] },
  { mediaType: 'image/png', description: 'PNG', extensions: ['.png'] },
  { mediaType: 'application/vnd.sqlite3', description: 'SQLite', extensions: ['.sqlite'] },
] as const satisfies readonly SupportedMediaType[];

/** One of the media type strings in {@link MEDIA_TYPES}. */
export type MediaType = (typeof MEDIA_TYPES)[number]['mediaType'];

/** Every extension, with the leading dot, that the API accepts at the end of an asset id. */
export const ASSET_ID_EXTENSIONS: ReadonlySet<string> = new Set(
  MEDIA_TYPES.flatMap((entry) => entry.extensions),
);

type MediaTypeEntry = (typeof MEDIA_TYPES)[number];

const MEDIA_TYPES_BY_NAME: ReadonlyMap<string, MediaTypeEntry> = new Map(
  MEDIA_TYPES.map((entry) => [entry.mediaType, entry]),
);

/** Default media type of each single extension that names one format without doubt. */
const SINGLE_EXTENSION_DEFAULTS: Readonly<Record<string, MediaType>> = {
  '.csv': 'text/csv',
  '.geojson': 'application/geo+json',
  '.gml': 'application/gml+xml',
  '.gpkg': 'application/geopackage+sqlite3',
  '.itf': 'application/x.interlis; version=1',
  '.jpeg': 'image/jpeg',
  '.jpg': 'image/jpeg',
  '.json': 'application/json',
  '.kml': 'application/vnd.google-earth.kml+xml',
  '.kmz': 'application/vnd.google-earth.kmz',
  '.las': 'application/vnd.las',
  '.laz': 'application/vnd.laszip',
  '.mbtiles': 'application/vnd.mapbox-vector-tile',
  '.nc': 'application/x-netcdf',
  '.parquet': 'application/vnd.apache.parquet',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.sqlite': 'application/vnd.sqlite3',
  '.tif': 'image/tiff; application=geotiff; profile=cloud-optimized',
  '.tiff': 'image/tiff; application=geotiff; profile=cloud-optimized',
  '.txt': 'text/plain',
  '.xml': 'application/xml',
  '.xtf': 'application/x.interlis; version=2.4',
};

/** Media type of each `<format>.zip` double extension. */
const ZIP_DOUBLE_EXTENSION_DEFAULTS: Readonly<Record<string, MediaType>> = {
  '.asc.zip': 'application/x.ascii-grid+zip',
  '.csv.zip': 'application/x.csv+zip',
  '.dwg.zip': 'application/x.dwg+zip',
  '.dxf.zip': 'application/x.dxf+zip',
  '.e00.zip': 'application/x.e00+zip',
  '.gdb.zip': 'application/x.filegdb+zip',
  '.geojson.zip': 'application/x.geojson+zip',
  '.gml.zip': 'application/x.gml+zip',
  '.gpkg.zip': 'application/x.geopackage+zip',
  '.itf.zip': 'application/x.interlis+zip; version=1',
  '.jpeg.zip': 'application/x.jpeg+zip',
  '.jpg.zip': 'application/x.jpeg+zip',
  '.json.zip': 'application/x.json+zip',
  '.las.zip': 'application/x.vnd.las+zip',
  '.mdb.zip': 'application/x.ms-access+zip',
  '.nc.zip': 'application/x.netcdf+zip',
  '.pdf.zip': 'application/x.pdf+zip',
  '.png.zip': 'application/x.png+zip',
  '.shp.zip': 'application/x.shapefile+zip',
  '.tab.zip': 'application/x.tab+zip',
  '.tif.zip': 'application/x.geotiff+zip',
  '.tiff.zip': 'application/x.geotiff+zip',
  '.txt.zip': 'text/x.plain+zip',
  '.xls.zip': 'application/x.ms-excel+zip',
  '.xlsx.zip': 'application/x.ms-excel+zip',
  '.xml.zip': 'application/x.xml+zip',
  '.xtf.zip': 'application/x.interlis+zip; version=2.4',
  '.xyz.zip': 'application/x.ascii-xyz+zip',
};

// Token characters of RFC 7230, as the server's media type pattern allows them.
const TOKEN = "[0-9A-Za-z!#$%&'*+.^_`|~-]+";
const MEDIA_TYPE_PATTERN = new RegExp(
  `^(${TOKEN}/${TOKEN})((?:[ \\t]*;[ \\t]*${TOKEN}=${TOKEN})*)$`,
);
const PARAMETER_PATTERN = new RegExp(`[ \\t]*;[ \\t]*(${TOKEN})=(${TOKEN})`, 'g');

const HOW_TO_FIND_MEDIA_TYPES =
  'The supported media types are listed in MEDIA_TYPES in lambdas/ingest/media-types.ts ' +
  'and in the "Supported Media Type" section of the STAC API documentation.';

/**
 * Normalises a media type the way the STAC API does and checks that the API supports it.
 *
 * The type, subtype and parameter names are lowercased, parameter values are kept, and the
 * parameters are sorted and joined as `; name=value`. Spaces and tabs are allowed only around
 * `;`. Quoted parameter values are rejected, as the server rejects them.
 *
 * @returns the normalised media type, one of {@link MEDIA_TYPES}
 * @throws UnsupportedMediaTypeError when the value is malformed or not a supported media type
 */
export function normalizeMediaType(value: string): MediaType {
  const match = MEDIA_TYPE_PATTERN.exec(value);
  if (match === null) {
    throw new UnsupportedMediaTypeError(
      `Invalid media type "${value}": expected "type/subtype" followed by optional ` +
        `"; name=value" parameters without quotes. ${HOW_TO_FIND_MEDIA_TYPES}`,
    );
  }

  const [, typeAndSubtype, parameterText] = match;
  const parameters = [...parameterText.matchAll(PARAMETER_PATTERN)]
    .map(([, name, parameterValue]) => `; ${name.toLowerCase()}=${parameterValue}`)
    .sort();
  const normalized = typeAndSubtype.toLowerCase() + parameters.join('');

  const entry = MEDIA_TYPES_BY_NAME.get(normalized);
  if (entry === undefined) {
    throw new UnsupportedMediaTypeError(
      `Unsupported media type "${value}": the STAC API does not accept it for assets. ` +
        HOW_TO_FIND_MEDIA_TYPES,
    );
  }
  return entry.mediaType;
}

/**
 * Chooses the media type of a file from its lowercased name, because the media type of an
 * existing asset cannot be changed and a wrong guess would need a person to delete the asset.
 *
 * Single extensions map to their one obvious type: `.json` to `application/json`, `.geojson`
 * to `application/geo+json`, `.xml` to `application/xml`, `.xtf` to INTERLIS 2.4 and `.itf`
 * to INTERLIS 1. `.tif` and `.tiff` map to the cloud optimized GeoTIFF type because it is the
 * catalogue's usual raster format. Set the `media-type` user metadata for a plain GeoTIFF or
 * TIFF. A `.zip` file needs a double extension such as `.shp.zip` or `.gpkg.zip`.
 *
 * @param fileName - file name or object key, only the part after the last `/` is used
 * @throws UnsupportedMediaTypeError when the extension is unknown, or when a `.zip` file has no
 *   known double extension
 */
export function mediaTypeFromFileName(fileName: string): MediaType {
  const baseName = fileName.slice(fileName.lastIndexOf('/') + 1).toLowerCase();
  const extensions = baseName.split('.').slice(1);
  const lastExtension = extensions.length > 0 ? `.${extensions[extensions.length - 1]}` : '';

  if (lastExtension === '.zip') {
    const doubleExtension = extensions.length >= 2 ? `.${extensions.slice(-2).join('.')}` : '';
    const zipType = ZIP_DOUBLE_EXTENSION_DEFAULTS[doubleExtension];
    if (zipType === undefined) {
      throw new UnsupportedMediaTypeError(
        `Cannot choose a media type for "${fileName}": ".zip" alone is ambiguous because each ` +
          `zipped format has its own media type. Name the file with one of the double extensions ` +
          `${Object.keys(ZIP_DOUBLE_EXTENSION_DEFAULTS).join(', ')}, or set the media type with ` +
          `the object user metadata "media-type".`,
      );
    }
    return zipType;
  }

  const singleType = SINGLE_EXTENSION_DEFAULTS[lastExtension];
  if (singleType === undefined) {
    const reason =
      lastExtension === ''
        ? 'the file name has no extension'
        : `extension "${lastExtension}" has no media type that the STAC API accepts`;
    throw new UnsupportedMediaTypeError(
      `Cannot choose a media type for "${fileName}": ${reason}. Rename the file to one of the extensions ` +
        `${Object.keys(SINGLE_EXTENSION_DEFAULTS).join(', ')} or a double extension ending in ` +
        `.zip, or set the media type with the object user metadata "media-type".`,
    );
  }
  return singleType;
}

/**
 * Checks that an asset id ends in an extension allowed for its media type, as the STAC API
 * requires (a shapefile must end in `.zip`, a GeoTIFF in `.tif` or `.tiff`).
 *
 * @param mediaType - media type, normalised here with {@link normalizeMediaType}
 * @throws UnsupportedMediaTypeError when the media type is not supported
 * @throws InvalidMetadataError when the extension does not fit the media type, which happens
 *   only when the `media-type` or `asset-id` user metadata overrides the defaults
 */
export function checkExtensionMatchesMediaType(assetId: string, mediaType: string): void {
  const normalized = normalizeMediaType(mediaType);
  const allowedExtensions: readonly string[] =
    MEDIA_TYPES_BY_NAME.get(normalized)?.extensions ?? [];
  const dotIndex = assetId.lastIndexOf('.');
  const extension = dotIndex === -1 ? '' : assetId.slice(dotIndex);
  if (allowedExtensions.includes(extension)) {
    return;
  }

  const allowed = allowedExtensions.join(', ');
  const extensionText = extension === '' ? 'has no extension' : `ends in "${extension}"`;
  throw new InvalidMetadataError(
    `Asset id "${assetId}" ${extensionText}, but the STAC API requires an id of media type ` +
      `"${normalized}" to end in ${allowed}. Rename the file (or set the "asset-id" user ` +
      `metadata) to end in ${allowed}, or set the "media-type" user metadata to a type that ` +
      `allows this extension.`,
  );
}
