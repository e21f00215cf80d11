/**
 * The schemas CloudSigma answers at /drives/schema/, /libdrives/schema/, /jobs/schema/ and
 * /profile/schema/, as its captured dumps have them (response_*_schema). The drive schema's
 * storage_type choices are the driver's, filled in when answered.
 */

export const DRIVE_SCHEMA: Record<string, any> = {
  "allowed_detail_http_methods": [
    "get",
    "put",
    "delete"
  ],
  "allowed_list_http_methods": [
    "get",
    "put",
    "delete",
    "post"
  ],
  "default_format": "application/json",
  "default_limit": 20,
  "fields": {
    "affinities": {
      "choices": [
        "ssd"
      ],
      "default": [],
      "help_text": "A list of affinities this drive should belong to",
      "readonly": false,
      "required": false,
      "type": "list"
    },
    "allow_multimount": {
      "default": false,
      "help_text": "Allow the drive to be mounted on multiple guests. Not taken into account when drive is cdrom.",
      "readonly": false,
      "required": false,
      "type": "boolean"
    },
    "backup_scheduler": {
      "default": "No default provided.",
      "help_text": "Drive's Backup scheduler",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "grantees": {
      "default": "No default provided.",
      "help_text": "A list of data. Ex: ['abc', 26.73, 8]",
      "readonly": false,
      "required": false,
      "type": "list"
    },
    "iops": {
      "default": null,
      "help_text": "IOPS limit per drive",
      "readonly": false,
      "required": false,
      "type": "integer"
    },
    "jobs": {
      "default": "No default provided.",
      "help_text": "Background jobs related to this resource",
      "readonly": true,
      "required": true,
      "type": "related"
    },
    "licenses": {
      "default": [],
      "fields": {
        "amount": {
          "default": 1,
          "help_text": "Number of licenses",
          "readonly": false,
          "required": false,
          "type": "integer"
        },
        "license": {
          "default": "No default provided.",
          "help_text": "A single related resource. Can be either a URI or set of nested resource data.",
          "readonly": false,
          "required": true,
          "type": "related"
        },
        "user": {
          "default": null,
          "help_text": "Owner of the license",
          "readonly": false,
          "required": false,
          "type": "related"
        }
      },
      "help_text": "A list of licenses attached to this drive",
      "readonly": false,
      "required": false,
      "type": "related"
    },
    "media": {
      "choices": [
        "cdrom",
        "disk"
      ],
      "default": null,
      "help_text": "Media representation type",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "meta": {
      "default": {},
      "help_text": "User defined meta information",
      "readonly": false,
      "required": false,
      "type": "dict"
    },
    "mounted_on": {
      "default": "No default provided.",
      "help_text": "Servers on which this drive is mounted on",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "name": {
      "default": null,
      "help_text": "Human readable name of the drive",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "owner": {
      "default": null,
      "help_text": "Owner of the drive",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "permissions": {
      "default": "No default provided.",
      "help_text": "A list of data. Ex: ['abc', 26.73, 8]",
      "readonly": false,
      "required": false,
      "type": "list"
    },
    "remote_snapshots": {
      "default": "No default provided.",
      "help_text": "Drive's Remote snapshots",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "resource_uri": {
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "readonly": true,
      "required": true,
      "type": "string"
    },
    "runtime": {
      "default": "No default provided.",
      "fields": {
        "is_downloadable": {
          "default": "No default provided.",
          "help_text": "Specifies if the drive supports downloads",
          "readonly": true,
          "required": true,
          "type": "boolean"
        },
        "is_ephemeral": {
          "default": "No default provided.",
          "help_text": "Specifies if the drive is ephemeral",
          "readonly": true,
          "required": true,
          "type": "boolean"
        },
        "is_snapshotable": {
          "default": "No default provided.",
          "help_text": "Specifies if the drive supports snapshotting",
          "readonly": true,
          "required": true,
          "type": "boolean"
        },
        "snapshots_allocated_size": {
          "default": "No default provided.",
          "help_text": "Sum of the allocated size of this drive's snapshots",
          "readonly": true,
          "required": true,
          "type": "integer"
        },
        "storage_type": {
          "default": "No default provided.",
          "help_text": "Underlying storage",
          "readonly": true,
          "required": true,
          "type": "string"
        }
      },
      "help_text": "Runtime information of the drive",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "size": {
      "default": null,
      "help_text": "Size of the drive in bytes",
      "readonly": false,
      "required": true,
      "type": "integer"
    },
    "snapshots": {
      "default": "No default provided.",
      "help_text": "Servers on which this drive is mounted on",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "status": {
      "default": "No default provided.",
      "help_text": "Status of the drive.",
      "readonly": true,
      "required": true,
      "type": "string"
    },
    "storage_type": {
      "choices": [
        "magnetic",
        "ssd",
        "dssd",
        "zadara",
        "nvme",
        "local_nvme"
      ],
      "default": null,
      "help_text": "Underlying storage",
      "readonly": false,
      "required": false,
      "type": "string"
    },
    "tags": {
      "default": "No default provided.",
      "help_text": "Many related resources. Can be either a list of URIs or list of individually nested resource data.",
      "readonly": false,
      "required": false,
      "type": "related"
    },
    "uuid": {
      "default": null,
      "help_text": "UUID of the drive",
      "readonly": true,
      "required": true,
      "type": "string"
    }
  },
  "filtering": {
    "name": "exact",
    "name__contains": "exact",
    "tag": "exact",
    "uuid": "exact"
  },
  "ordering": [
    "uuid",
    "name"
  ]
};  // eslint-disable-line @typescript-eslint/no-explicit-any

export const LIBDRIVE_SCHEMA: Record<string, any> = {
  "allowed_detail_http_methods": [
    "get"
  ],
  "allowed_list_http_methods": [
    "get"
  ],
  "default_format": "application/json",
  "default_limit": 20,
  "fields": {
    "affinities": {
      "choices": [
        "ssd"
      ],
      "default": [],
      "help_text": "A list of affinities this drive should belong to",
      "readonly": false,
      "required": false,
      "type": "list"
    },
    "allow_multimount": {
      "default": false,
      "help_text": "Allow the drive to be mounted on multiple guests. Not taken into account when drive is cdrom.",
      "readonly": false,
      "required": false,
      "type": "boolean"
    },
    "arch": {
      "default": null,
      "help_text": "Operating system bit architecture the drive.",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "category": {
      "default": [],
      "help_text": "Category of the drive.",
      "readonly": false,
      "required": false,
      "type": "list"
    },
    "description": {
      "default": null,
      "help_text": "Description of drive image.",
      "readonly": false,
      "required": false,
      "type": "string"
    },
    "distribution": {
      "default": null,
      "help_text": "OS distribution of the drive.",
      "readonly": false,
      "required": false,
      "type": "string"
    },
    "favourite": {
      "default": null,
      "help_text": "Favourite drive image for user.",
      "readonly": false,
      "required": true,
      "type": "boolean"
    },
    "image_type": {
      "default": null,
      "help_text": "Type of drive image.",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "install_notes": {
      "default": null,
      "help_text": "Install notes for the drive image.",
      "readonly": false,
      "required": false,
      "type": "string"
    },
    "jobs": {
      "default": "No default provided.",
      "help_text": "Background jobs related to this resource",
      "readonly": true,
      "required": true,
      "type": "related"
    },
    "licenses": {
      "default": [],
      "fields": {
        "amount": {
          "default": 1,
          "help_text": "Number of licenses",
          "readonly": false,
          "required": false,
          "type": "integer"
        },
        "license": {
          "default": "No default provided.",
          "help_text": "A single related resource. Can be either a URI or set of nested resource data.",
          "readonly": false,
          "required": true,
          "type": "related"
        },
        "user": {
          "default": null,
          "help_text": "Owner of the license",
          "readonly": false,
          "required": false,
          "type": "related"
        }
      },
      "help_text": "A list of licenses attached to this drive",
      "readonly": false,
      "required": false,
      "type": "related"
    },
    "media": {
      "choices": [
        "cdrom",
        "disk"
      ],
      "default": null,
      "help_text": "Media representation type",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "meta": {
      "default": {},
      "help_text": "User defined meta information",
      "readonly": false,
      "required": false,
      "type": "dict"
    },
    "mounted_on": {
      "default": "No default provided.",
      "help_text": "Servers on which this drive is mounted on",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "name": {
      "default": null,
      "help_text": "Human readable name of the drive",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "os": {
      "default": null,
      "help_text": "Operating system of the drive.",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "owner": {
      "default": null,
      "help_text": "Owner of the drive",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "paid": {
      "default": null,
      "help_text": "Paid or free.",
      "readonly": false,
      "required": true,
      "type": "boolean"
    },
    "resource_uri": {
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "readonly": true,
      "required": true,
      "type": "string"
    },
    "size": {
      "default": null,
      "help_text": "Size of the drive in bytes",
      "readonly": false,
      "required": true,
      "type": "integer"
    },
    "status": {
      "default": "No default provided.",
      "help_text": "Status of the drive.",
      "readonly": true,
      "required": true,
      "type": "string"
    },
    "storage_type": {
      "default": "No default provided.",
      "help_text": "Underlying storage",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "tags": {
      "default": "No default provided.",
      "help_text": "Many related resources. Can be either a list of URIs or list of individually nested resource data.",
      "readonly": false,
      "required": false,
      "type": "related"
    },
    "url": {
      "default": null,
      "help_text": "Operating system bit architecture the drive.",
      "readonly": false,
      "required": false,
      "type": "string"
    },
    "uuid": {
      "default": null,
      "help_text": "UUID of the drive",
      "readonly": true,
      "required": true,
      "type": "string"
    },
    "version": {
      "default": null,
      "help_text": "OS version of the drive.",
      "readonly": false,
      "required": false,
      "type": "string"
    }
  },
  "filtering": {
    "arch": "exact",
    "category": "exact",
    "distribution": "exact",
    "image_type": "exact",
    "name": "exact",
    "name__icontains": "exact",
    "os": "exact",
    "uuid": "exact",
    "version": "exact"
  }
};  // eslint-disable-line @typescript-eslint/no-explicit-any

export const JOBS_SCHEMA: Record<string, any> = {
  "allowed_detail_http_methods": [
    "get"
  ],
  "allowed_list_http_methods": [
    "get"
  ],
  "default_format": "application/json",
  "default_limit": 20,
  "fields": {
    "children": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Background jobs, initiated by this job.",
      "nullable": true,
      "readonly": false,
      "type": "related",
      "unique": false
    },
    "created": {
      "blank": false,
      "default": "2014-06-05T09:46:41.793232+00:00",
      "help_text": "A date & time as a string. Ex: \"2010-11-10T03:07:43\"",
      "nullable": false,
      "readonly": false,
      "type": "datetime",
      "unique": false
    },
    "data": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Meta information related to this background job's execution.",
      "nullable": true,
      "readonly": false,
      "type": "object",
      "unique": false
    },
    "last_modified": {
      "blank": false,
      "default": "2014-06-05T09:46:41.793249+00:00",
      "help_text": "A date & time as a string. Ex: \"2010-11-10T03:07:43\"",
      "nullable": false,
      "readonly": false,
      "type": "datetime",
      "unique": false
    },
    "operation": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": true,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "resource_uri": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": true,
      "type": "string",
      "unique": false
    },
    "resources": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Resources linked to this background job.",
      "nullable": true,
      "readonly": false,
      "type": "list",
      "unique": false
    },
    "state": {
      "blank": false,
      "default": "started",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "uuid": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": true
    }
  },
  "filtering": {
    "state": 1
  },
  "ordering": [
    "-last_modified"
  ]
};  // eslint-disable-line @typescript-eslint/no-explicit-any

export const PROFILE_SCHEMA: Record<string, any> = {
  "allowed_detail_http_methods": [
    "get",
    "put"
  ],
  "allowed_list_http_methods": [
    "get",
    "put"
  ],
  "default_format": "application/json",
  "default_limit": 20,
  "fields": {
    "address": {
      "blank": false,
      "default": "",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "api_https_only": {
      "blank": false,
      "default": false,
      "help_text": "Boolean data. Ex: True",
      "nullable": false,
      "readonly": false,
      "type": "boolean",
      "unique": false
    },
    "autotopup_amount": {
      "blank": false,
      "default": 0,
      "help_text": "Fixed precision numeric data. Ex: 26.73",
      "nullable": false,
      "readonly": false,
      "type": "decimal",
      "unique": false
    },
    "autotopup_threshold": {
      "blank": false,
      "default": 0,
      "help_text": "Fixed precision numeric data. Ex: 26.73",
      "nullable": false,
      "readonly": false,
      "type": "decimal",
      "unique": false
    },
    "bank_reference": {
      "blank": true,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": true,
      "readonly": true,
      "type": "string",
      "unique": false
    },
    "clone_naming": {
      "blank": false,
      "default": "NONE",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "company": {
      "blank": false,
      "default": "",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "country": {
      "blank": false,
      "default": "",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "currency": {
      "blank": true,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": true,
      "readonly": true,
      "type": "string",
      "unique": false
    },
    "email": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": true,
      "type": "string",
      "unique": false
    },
    "first_name": {
      "blank": false,
      "default": "",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "has_autotopup": {
      "blank": false,
      "default": false,
      "help_text": "Boolean data. Ex: True",
      "nullable": false,
      "readonly": false,
      "type": "boolean",
      "unique": false
    },
    "has_tx_autotopup": {
      "blank": false,
      "default": false,
      "help_text": "Boolean data. Ex: True",
      "nullable": false,
      "readonly": false,
      "type": "boolean",
      "unique": false
    },
    "invoicing": {
      "blank": false,
      "default": true,
      "help_text": "Boolean data. Ex: True",
      "nullable": false,
      "readonly": false,
      "type": "boolean",
      "unique": false
    },
    "key_auth": {
      "blank": false,
      "default": false,
      "help_text": "Boolean data. Ex: True",
      "nullable": false,
      "readonly": false,
      "type": "boolean",
      "unique": false
    },
    "language": {
      "blank": false,
      "default": "EN",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "last_name": {
      "blank": false,
      "default": "",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "mailing_list": {
      "blank": false,
      "default": true,
      "help_text": "Boolean data. Ex: True",
      "nullable": false,
      "readonly": false,
      "type": "boolean",
      "unique": false
    },
    "meta": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "A dictionary of data. Ex: {'price': 26.73, 'name': 'Daniel'}",
      "nullable": false,
      "readonly": false,
      "type": "dict",
      "unique": false
    },
    "my_notes": {
      "blank": false,
      "default": "",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": true,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "network_restrictions": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": true,
      "readonly": true,
      "type": "string",
      "unique": false
    },
    "nickname": {
      "blank": false,
      "default": "",
      "help_text": "User nickname",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "phone": {
      "blank": false,
      "default": "",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "postcode": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": true,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "reseller": {
      "blank": false,
      "default": "",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "signup_time": {
      "blank": false,
      "default": "2015-03-19T13:49:15.421660+00:00",
      "help_text": "A date & time as a string. Ex: \"2010-11-10T03:07:43\"",
      "nullable": false,
      "readonly": false,
      "type": "datetime",
      "unique": false
    },
    "state": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": true,
      "type": "string",
      "unique": false
    },
    "tax_name": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": true,
      "readonly": true,
      "type": "string",
      "unique": false
    },
    "tax_rate": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Fixed precision numeric data. Ex: 26.73",
      "nullable": true,
      "readonly": true,
      "type": "decimal",
      "unique": false
    },
    "title": {
      "blank": false,
      "default": "",
      "help_text": "User title",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "town": {
      "blank": false,
      "default": "",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "tx_autotopup_amount": {
      "blank": false,
      "default": 0,
      "help_text": "Fixed precision numeric data. Ex: 26.73",
      "nullable": false,
      "readonly": false,
      "type": "decimal",
      "unique": false
    },
    "tx_autotopup_threshold": {
      "blank": false,
      "default": 0,
      "help_text": "Fixed precision numeric data. Ex: 26.73",
      "nullable": false,
      "readonly": false,
      "type": "decimal",
      "unique": false
    },
    "uuid": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": true,
      "type": "string",
      "unique": false
    },
    "vat": {
      "blank": false,
      "default": "",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    }
  }
};  // eslint-disable-line @typescript-eslint/no-explicit-any
