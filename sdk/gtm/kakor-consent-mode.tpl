___TERMS_OF_SERVICE___

By creating or modifying this file you agree to Google Tag Manager's Community
Template Gallery Developer Terms of Service available at
https://developers.google.com/tag-manager/gallery-tos (or such other URL as
Google may provide), as modified from time to time.

___INFO___

{
  "type": "TAG",
  "id": "cvt_temp_public_id",
  "version": 1,
  "securityGroups": [],
  "displayName": "kakor — Consent Mode",
  "categories": [
    "UTILITY"
  ],
  "brand": {
    "id": "kakor",
    "displayName": "kakor"
  },
  "description": "Fire on Consent Initialization - All Pages. Sets every Consent Mode v2 signal denied before any tag runs, then pushes a dataLayer event each time kakor's widget changes a signal. kakor's widget sends the updates itself: this template never sends one.",
  "containerContexts": [
    "WEB"
  ]
}

___TEMPLATE_PARAMETERS___

[
  {
    "type": "TEXT",
    "name": "waitForUpdate",
    "displayName": "Wait for kakor's update (milliseconds)",
    "simpleValueType": true,
    "defaultValue": 500,
    "valueValidators": [
      {
        "type": "NON_NEGATIVE_NUMBER"
      }
    ],
    "help": "How long Google tags wait for the widget's update of a stored choice."
  },
  {
    "type": "TEXT",
    "name": "eventName",
    "displayName": "dataLayer event after a change",
    "simpleValueType": true,
    "defaultValue": "kakor_consent_update",
    "valueValidators": [
      {
        "type": "NON_EMPTY"
      }
    ],
    "help": "Trigger tags on this Custom Event; its kakor_consent variable holds the four signals."
  }
]

___SANDBOXED_JS_FOR_WEB_TEMPLATE___

// kakor — Consent Mode for Google Tag Manager (docs/integrations.md).
// Runs on Consent Initialization, before any other tag. kakor's widget pushes
// gtag('consent', 'update', …) itself, once per decision (C17): this template
// sends no update of its own, it only sets the default and reports changes.
const setDefaultConsentState = require('setDefaultConsentState');
const addConsentListener = require('addConsentListener');
const isConsentGranted = require('isConsentGranted');
const createQueue = require('createQueue');
const callLater = require('callLater');
const makeNumber = require('makeNumber');

const SIGNALS = ['analytics_storage', 'ad_storage', 'ad_user_data', 'ad_personalization'];
const dataLayerPush = createQueue('dataLayer');

// Denied until the visitor decides: the widget may load after the container.
setDefaultConsentState({
  analytics_storage: 'denied',
  ad_storage: 'denied',
  ad_user_data: 'denied',
  ad_personalization: 'denied',
  wait_for_update: makeNumber(data.waitForUpdate)
});

// One update flips several signals, and each listener hears its own: gather
// them into a single event after the update is done.
let pending = false;
function announce() {
  pending = false;
  const state = {};
  SIGNALS.forEach(function (signal) {
    state[signal] = isConsentGranted(signal) ? 'granted' : 'denied';
  });
  dataLayerPush({event: data.eventName, kakor_consent: state});
}
SIGNALS.forEach(function (signal) {
  addConsentListener(signal, function () {
    if (pending) return;
    pending = true;
    callLater(announce);
  });
});

data.gtmOnSuccess();

___WEB_PERMISSIONS___

[
  {
    "instance": {
      "key": {
        "publicId": "access_consent",
        "versionId": "1"
      },
      "param": [
        {
          "key": "consentTypes",
          "value": {
            "type": 2,
            "listItem": [
              {
                "type": 3,
                "mapKey": [
                  {
                    "type": 1,
                    "string": "consentType"
                  },
                  {
                    "type": 1,
                    "string": "read"
                  },
                  {
                    "type": 1,
                    "string": "write"
                  }
                ],
                "mapValue": [
                  {
                    "type": 1,
                    "string": "analytics_storage"
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  }
                ]
              },
              {
                "type": 3,
                "mapKey": [
                  {
                    "type": 1,
                    "string": "consentType"
                  },
                  {
                    "type": 1,
                    "string": "read"
                  },
                  {
                    "type": 1,
                    "string": "write"
                  }
                ],
                "mapValue": [
                  {
                    "type": 1,
                    "string": "ad_storage"
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  }
                ]
              },
              {
                "type": 3,
                "mapKey": [
                  {
                    "type": 1,
                    "string": "consentType"
                  },
                  {
                    "type": 1,
                    "string": "read"
                  },
                  {
                    "type": 1,
                    "string": "write"
                  }
                ],
                "mapValue": [
                  {
                    "type": 1,
                    "string": "ad_user_data"
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  }
                ]
              },
              {
                "type": 3,
                "mapKey": [
                  {
                    "type": 1,
                    "string": "consentType"
                  },
                  {
                    "type": 1,
                    "string": "read"
                  },
                  {
                    "type": 1,
                    "string": "write"
                  }
                ],
                "mapValue": [
                  {
                    "type": 1,
                    "string": "ad_personalization"
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  }
                ]
              }
            ]
          }
        }
      ]
    },
    "clientAnnotations": {
      "isEditedByUser": true
    },
    "isRequired": true
  },
  {
    "instance": {
      "key": {
        "publicId": "access_globals",
        "versionId": "1"
      },
      "param": [
        {
          "key": "keys",
          "value": {
            "type": 2,
            "listItem": [
              {
                "type": 3,
                "mapKey": [
                  {
                    "type": 1,
                    "string": "key"
                  },
                  {
                    "type": 1,
                    "string": "read"
                  },
                  {
                    "type": 1,
                    "string": "write"
                  },
                  {
                    "type": 1,
                    "string": "execute"
                  }
                ],
                "mapValue": [
                  {
                    "type": 1,
                    "string": "dataLayer"
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": false
                  }
                ]
              }
            ]
          }
        }
      ]
    },
    "clientAnnotations": {
      "isEditedByUser": true
    },
    "isRequired": true
  }
]

___TESTS___

scenarios:
- name: every signal is denied by default and the tag succeeds
  code: |-
    runCode({waitForUpdate: '500', eventName: 'kakor_consent_update'});
    assertApi('setDefaultConsentState').wasCalledWith({
      analytics_storage: 'denied', ad_storage: 'denied', ad_user_data: 'denied',
      ad_personalization: 'denied', wait_for_update: 500
    });
    assertApi('gtmOnSuccess').wasCalled();

___NOTES___

Made for kakor: see docs/integrations.md. Tested in Chromium against a stub of the sandboxed APIs: tests/browser/test_gtm.py.
