"""moto_server, answering one request at a time.

moto's DynamoDB is not thread-safe: under concurrent requests it fails with "dictionary changed
size during iteration" and does not isolate concurrent transactions. Served one request at a time
it behaves as DynamoDB promises (every transaction serialized), which is what the second-engine
run of the integration tests needs. Usage: moto_serial.py PORT
"""

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

if __name__ == "__main__":
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=False, processes=1)
