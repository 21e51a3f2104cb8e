// Generated from proto/restpipe/v1/pipe.proto by packages/wire/scripts/embed-schema.mjs: do not edit.
// Change the .proto file, then run `npm run embed-schema -w @restpipe/wire`.
import type { INamespace } from 'protobufjs';

/** The protobufjs JSON descriptor of proto/restpipe/v1/pipe.proto. */
export const SCHEMA_JSON: INamespace = {
  "nested": {
    "restpipe": {
      "nested": {
        "v1": {
          "nested": {
            "Frame": {
              "oneofs": {
                "kind": {
                  "oneof": [
                    "hello",
                    "helloAck",
                    "event",
                    "reply",
                    "ping",
                    "pong",
                    "cancel",
                    "goaway",
                    "holdNotice",
                    "streamData",
                    "streamEnd",
                    "streamWindow"
                  ]
                }
              },
              "fields": {
                "hello": {
                  "type": "Hello",
                  "id": 1
                },
                "helloAck": {
                  "type": "HelloAck",
                  "id": 2
                },
                "event": {
                  "type": "Event",
                  "id": 3
                },
                "reply": {
                  "type": "Reply",
                  "id": 4
                },
                "ping": {
                  "type": "Ping",
                  "id": 5
                },
                "pong": {
                  "type": "Pong",
                  "id": 6
                },
                "cancel": {
                  "type": "Cancel",
                  "id": 7
                },
                "goaway": {
                  "type": "Goaway",
                  "id": 8
                },
                "holdNotice": {
                  "type": "HoldNotice",
                  "id": 9
                },
                "streamData": {
                  "type": "StreamData",
                  "id": 10
                },
                "streamEnd": {
                  "type": "StreamEnd",
                  "id": 11
                },
                "streamWindow": {
                  "type": "StreamWindow",
                  "id": 12
                }
              }
            },
            "Hello": {
              "fields": {
                "protocolVersion": {
                  "type": "uint32",
                  "id": 1
                },
                "software": {
                  "type": "string",
                  "id": 2
                },
                "heartbeatMs": {
                  "type": "uint32",
                  "id": 3
                },
                "maxEventBytes": {
                  "type": "uint32",
                  "id": 4
                },
                "maxInFlight": {
                  "type": "uint32",
                  "id": 5
                },
                "maxConcurrency": {
                  "type": "uint32",
                  "id": 6
                },
                "maxInboundBytes": {
                  "type": "uint32",
                  "id": 7
                },
                "idempotencyKeys": {
                  "type": "bool",
                  "id": 8
                },
                "holds": {
                  "type": "bool",
                  "id": 9
                },
                "streamWindow": {
                  "type": "uint32",
                  "id": 10
                }
              }
            },
            "HelloAck": {
              "fields": {
                "protocolVersion": {
                  "type": "uint32",
                  "id": 1
                },
                "software": {
                  "type": "string",
                  "id": 2
                },
                "heartbeatMs": {
                  "type": "uint32",
                  "id": 3
                },
                "maxEventBytes": {
                  "type": "uint32",
                  "id": 4
                },
                "maxInFlight": {
                  "type": "uint32",
                  "id": 5
                },
                "maxConcurrency": {
                  "type": "uint32",
                  "id": 6
                },
                "peerName": {
                  "type": "string",
                  "id": 7
                },
                "maxInboundBytes": {
                  "type": "uint32",
                  "id": 8
                },
                "idempotencyKeys": {
                  "type": "bool",
                  "id": 9
                },
                "holds": {
                  "type": "bool",
                  "id": 10
                },
                "streamWindow": {
                  "type": "uint32",
                  "id": 11
                }
              }
            },
            "QueryParam": {
              "fields": {
                "key": {
                  "type": "string",
                  "id": 1
                },
                "values": {
                  "rule": "repeated",
                  "type": "string",
                  "id": 2
                }
              }
            },
            "Event": {
              "fields": {
                "id": {
                  "type": "uint32",
                  "id": 1
                },
                "verb": {
                  "type": "string",
                  "id": 2
                },
                "noun": {
                  "rule": "repeated",
                  "type": "string",
                  "id": 3
                },
                "args": {
                  "rule": "repeated",
                  "type": "string",
                  "id": 4
                },
                "query": {
                  "rule": "repeated",
                  "type": "QueryParam",
                  "id": 5
                },
                "mimeType": {
                  "type": "string",
                  "id": 6
                },
                "data": {
                  "type": "bytes",
                  "id": 7
                },
                "timeoutMs": {
                  "type": "uint32",
                  "id": 8
                },
                "requestId": {
                  "type": "string",
                  "id": 9
                },
                "idempotencyKey": {
                  "type": "string",
                  "id": 10
                },
                "attempt": {
                  "type": "uint32",
                  "id": 11
                },
                "hold": {
                  "type": "string",
                  "id": 12
                },
                "streamed": {
                  "type": "bool",
                  "id": 13
                },
                "size": {
                  "type": "uint64",
                  "id": 14
                }
              }
            },
            "ReplyKind": {
              "values": {
                "REPLY_KIND_VALUE": 0,
                "REPLY_KIND_EXCEPTION": 1,
                "REPLY_KIND_HELD": 2
              }
            },
            "Reply": {
              "fields": {
                "id": {
                  "type": "uint32",
                  "id": 1
                },
                "returnCode": {
                  "type": "uint32",
                  "id": 2
                },
                "mimeType": {
                  "type": "string",
                  "id": 3
                },
                "data": {
                  "type": "bytes",
                  "id": 4
                },
                "kind": {
                  "type": "ReplyKind",
                  "id": 5
                },
                "status": {
                  "type": "uint32",
                  "id": 6
                },
                "replayed": {
                  "type": "bool",
                  "id": 7
                },
                "streamed": {
                  "type": "bool",
                  "id": 8
                },
                "size": {
                  "type": "uint64",
                  "id": 9
                }
              }
            },
            "Ping": {
              "fields": {
                "seq": {
                  "type": "uint32",
                  "id": 1
                }
              }
            },
            "Pong": {
              "fields": {
                "seq": {
                  "type": "uint32",
                  "id": 1
                }
              }
            },
            "Cancel": {
              "fields": {
                "id": {
                  "type": "uint32",
                  "id": 1
                }
              }
            },
            "HoldNotice": {
              "fields": {
                "hold": {
                  "type": "string",
                  "id": 1
                }
              }
            },
            "StreamData": {
              "fields": {
                "id": {
                  "type": "uint32",
                  "id": 1
                },
                "reply": {
                  "type": "bool",
                  "id": 2
                },
                "data": {
                  "type": "bytes",
                  "id": 3
                }
              }
            },
            "StreamEnd": {
              "fields": {
                "id": {
                  "type": "uint32",
                  "id": 1
                },
                "reply": {
                  "type": "bool",
                  "id": 2
                },
                "aborted": {
                  "type": "bool",
                  "id": 3
                },
                "message": {
                  "type": "string",
                  "id": 4
                }
              }
            },
            "StreamWindow": {
              "fields": {
                "id": {
                  "type": "uint32",
                  "id": 1
                },
                "reply": {
                  "type": "bool",
                  "id": 2
                },
                "bytes": {
                  "type": "uint32",
                  "id": 3
                },
                "stop": {
                  "type": "bool",
                  "id": 4
                }
              }
            },
            "Goaway": {
              "fields": {
                "reason": {
                  "type": "string",
                  "id": 1
                },
                "message": {
                  "type": "string",
                  "id": 2
                }
              }
            }
          }
        }
      }
    }
  }
};
