import { InvalidMetadataError, UnsupportedMediaTypeError } from '../../lambdas/ingest/errors';
import {
  ASSET_ID_EXTENSIONS,
  checkExtensionMatchesMediaType,
  MEDIA_TYPES,
  mediaTypeFromFileName,
  normalizeMediaType,
} from '../../lambdas/ingest/media-types';

describe('media-types', () => {
  describe('MEDIA_TYPES', () => {
    it('lists each media type once', () => {
      // Arrange
      const names = MEDIA_TYPES.map((entry) => entry.mediaType);

      // Act
      const unique = new Set(names);

      // Assert
      expect(unique.size).toBe(names.length);
      expect(names).toHaveLength(55);
    });

    it.each(MEDIA_TYPES.map((entry) => entry.mediaType))(
      'stores %s in normalised form',
      (mediaType) => {
        // Act
        const normalized = normalizeMediaType(mediaType);

        // Assert
        expect(normalized).toBe(mediaType);
      },
    );
  });

  describe('ASSET_ID_EXTENSIONS', () => {
    it('contains every extension of the media type list', () => {
      // Arrange
      const expected = [
        '.csv',
        '.geojson',
        '.gml',
        '.gpkg',
        '.itf',
        '.jpeg',
        '.jpg',
        '.json',
        '.kml',
        '.kmz',
        '.las',
        '.laz',
        '.mbtiles',
        '.nc',
        '.parquet',
        '.pdf',
        '.png',
        '.sqlite',
        '.tif',
        '.tiff',
        '.txt',
        '.xml',
        '.xtf',
        '.zip',
      ];

      // Act
      const actual = [...ASSET_ID_EXTENSIONS].sort();

      // Assert
      expect(actual).toEqual(expected);
    });
  });

  describe('normalizeMediaType', () => {
    it.each([
      ['IMAGE/TIFF', 'image/tiff'],
      ['image/tiff;application=geotiff', 'image/tiff; application=geotiff'],
      [
        'image/tiff; profile=cloud-optimized; application=geotiff',
        'image/tiff; application=geotiff; profile=cloud-optimized',
      ],
      [
        'Image/TIFF ;\tAPPLICATION=geotiff ;  Profile=cloud-optimized',
        'image/tiff; application=geotiff; profile=cloud-optimized',
      ],
      ['application/x.interlis;VERSION=2.4', 'application/x.interlis; version=2.4'],
    ])('normalises %j to %j', (value, expected) => {
      // Act
      const normalized = normalizeMediaType(value);

      // Assert
      expect(normalized).toBe(expected);
    });

    it.each([
      'image/tiff; application="geotiff"',
      'image/tiff; application = geotiff',
      ' image/tiff',
      'image/tiff ',
      'image / tiff',
      'image',
      '',
      'image/tiff;',
    ])('rejects malformed %j', (value) => {
      // Act
      const act = () => normalizeMediaType(value);

      // Assert
      expect(act).toThrow(UnsupportedMediaTypeError);
      expect(act).toThrow(`Invalid media type "${value}"`);
    });

    it('keeps parameter values case-sensitive when checking support', () => {
      // Act
      const act = () => normalizeMediaType('image/tiff; application=GeoTIFF');

      // Assert
      expect(act).toThrow(UnsupportedMediaTypeError);
    });

    it('names the value and where to find valid types when unsupported', () => {
      // Act
      const act = () => normalizeMediaType('image/webp');

      // Assert
      expect(act).toThrow(
        'Unsupported media type "image/webp": the STAC API does not accept it for assets. ' +
          'The supported media types are listed in MEDIA_TYPES in lambdas/ingest/media-types.ts ' +
          'and in the "Supported Media Type" section of the STAC API documentation.',
      );
    });
  });

  describe('mediaTypeFromFileName', () => {
    it.each([
      ['places.gpkg', 'application/geopackage+sqlite3'],
      ['places.csv', 'text/csv'],
      ['places.kml', 'application/vnd.google-earth.kml+xml'],
      ['places.kmz', 'application/vnd.google-earth.kmz'],
      ['report.pdf', 'application/pdf'],
      ['climate.nc', 'application/x-netcdf'],
      ['table.parquet', 'application/vnd.apache.parquet'],
      ['cloud.las', 'application/vnd.las'],
      ['cloud.laz', 'application/vnd.laszip'],
      ['tiles.mbtiles', 'application/vnd.mapbox-vector-tile'],
      ['readme.txt', 'text/plain'],
      ['preview.png', 'image/png'],
      ['photo.jpg', 'image/jpeg'],
      ['photo.jpeg', 'image/jpeg'],
      ['data.sqlite', 'application/vnd.sqlite3'],
      ['places.geojson', 'application/geo+json'],
      ['places.json', 'application/json'],
      ['metadata.xml', 'application/xml'],
      ['places.gml', 'application/gml+xml'],
      ['model.xtf', 'application/x.interlis; version=2.4'],
      ['model.itf', 'application/x.interlis; version=1'],
      ['dem.tif', 'image/tiff; application=geotiff; profile=cloud-optimized'],
      ['dem.tiff', 'image/tiff; application=geotiff; profile=cloud-optimized'],
      ['places.shp.zip', 'application/x.shapefile+zip'],
      ['places.gdb.zip', 'application/x.filegdb+zip'],
      ['places.gpkg.zip', 'application/x.geopackage+zip'],
      ['places.csv.zip', 'application/x.csv+zip'],
      ['dem.tif.zip', 'application/x.geotiff+zip'],
      ['dem.tiff.zip', 'application/x.geotiff+zip'],
      ['places.geojson.zip', 'application/x.geojson+zip'],
      ['places.json.zip', 'application/x.json+zip'],
      ['plan.dxf.zip', 'application/x.dxf+zip'],
      ['places.gml.zip', 'application/x.gml+zip'],
      ['cloud.las.zip', 'application/x.vnd.las+zip'],
      ['dem.asc.zip', 'application/x.ascii-grid+zip'],
      ['dem.xyz.zip', 'application/x.ascii-xyz+zip'],
      ['cover.e00.zip', 'application/x.e00+zip'],
      ['preview.png.zip', 'application/x.png+zip'],
      ['photo.jpg.zip', 'application/x.jpeg+zip'],
      ['photo.jpeg.zip', 'application/x.jpeg+zip'],
      ['report.pdf.zip', 'application/x.pdf+zip'],
      ['climate.nc.zip', 'application/x.netcdf+zip'],
      ['metadata.xml.zip', 'application/x.xml+zip'],
      ['readme.txt.zip', 'text/x.plain+zip'],
      ['plan.dwg.zip', 'application/x.dwg+zip'],
      ['places.tab.zip', 'application/x.tab+zip'],
      ['places.mdb.zip', 'application/x.ms-access+zip'],
      ['table.xls.zip', 'application/x.ms-excel+zip'],
      ['table.xlsx.zip', 'application/x.ms-excel+zip'],
      ['model.xtf.zip', 'application/x.interlis+zip; version=2.4'],
      ['model.itf.zip', 'application/x.interlis+zip; version=1'],
    ])('maps %s to %s', (fileName, expected) => {
      // Act
      const mediaType = mediaTypeFromFileName(fileName);

      // Assert
      expect(mediaType).toBe(expected);
      expect(() => checkExtensionMatchesMediaType(fileName, mediaType)).not.toThrow();
    });

    it('lowercases the name when it has uppercase letters', () => {
      // Act
      const mediaType = mediaTypeFromFileName('Places.SHP.Zip');

      // Assert
      expect(mediaType).toBe('application/x.shapefile+zip');
    });

    it('uses only the last key segment when given a key', () => {
      // Act
      const mediaType = mediaTypeFromFileName('ch.swisstopo.demo/item.v1/places.gpkg');

      // Assert
      expect(mediaType).toBe('application/geopackage+sqlite3');
    });

    it.each(['places.zip', 'places.copc.zip', 'archive.tar.zip', '.zip'])(
      'rejects ambiguous %s',
      (fileName) => {
        // Act
        const act = () => mediaTypeFromFileName(fileName);

        // Assert
        expect(act).toThrow(UnsupportedMediaTypeError);
        expect(act).toThrow(
          `Cannot choose a media type for "${fileName}": ".zip" alone is ambiguous because each ` +
            'zipped format has its own media type. Name the file with one of the double extensions ',
        );
        expect(act).toThrow('.shp.zip');
        expect(act).toThrow('or set the media type with the object user metadata "media-type".');
      },
    );

    it('names the extension and the fix when unknown', () => {
      // Act
      const act = () => mediaTypeFromFileName('image.webp');

      // Assert
      expect(act).toThrow(UnsupportedMediaTypeError);
      expect(act).toThrow(
        'Cannot choose a media type for "image.webp": extension ".webp" has no media type that ' +
          'the STAC API accepts. Rename the file to one of the extensions .csv, ',
      );
      expect(act).toThrow('set the media type with the object user metadata "media-type".');
    });

    it('rejects a name without extension', () => {
      // Act
      const act = () => mediaTypeFromFileName('README');

      // Assert
      expect(act).toThrow(UnsupportedMediaTypeError);
      expect(act).toThrow(
        'Cannot choose a media type for "README": the file name has no extension. Rename',
      );
    });
  });

  describe('checkExtensionMatchesMediaType', () => {
    it.each([
      ['dem.tif', 'image/tiff; application=geotiff'],
      ['dem.tiff', 'image/tiff'],
      ['places.zip', 'application/x.shapefile+zip'],
      ['cloud.zip', 'application/vnd.laszip'],
      ['places.json', 'application/geo+json'],
      ['model.xml', 'application/x.interlis; version=2.3'],
      ['dem.tif', 'IMAGE/TIFF; Profile=cloud-optimized; application=geotiff'],
    ])('accepts %s as %s', (assetId, mediaType) => {
      // Act
      const act = () => checkExtensionMatchesMediaType(assetId, mediaType);

      // Assert
      expect(act).not.toThrow();
    });

    it('names id, type and fix when the extension does not fit', () => {
      // Act
      const act = () => checkExtensionMatchesMediaType('dem.tif', 'application/x.shapefile+zip');

      // Assert
      expect(act).toThrow(InvalidMetadataError);
      expect(act).toThrow(
        'Asset id "dem.tif" ends in ".tif", but the STAC API requires an id of media type ' +
          '"application/x.shapefile+zip" to end in .zip. Rename the file (or set the "asset-id" ' +
          'user metadata) to end in .zip, or set the "media-type" user metadata to a type that ' +
          'allows this extension.',
      );
    });

    it('rejects an id without extension', () => {
      // Act
      const act = () => checkExtensionMatchesMediaType('dem', 'image/tiff');

      // Assert
      expect(act).toThrow(InvalidMetadataError);
      expect(act).toThrow('Asset id "dem" has no extension, but');
    });

    it('rejects an unsupported media type', () => {
      // Act
      const act = () => checkExtensionMatchesMediaType('dem.tif', 'image/webp');

      // Assert
      expect(act).toThrow(UnsupportedMediaTypeError);
    });
  });
});
