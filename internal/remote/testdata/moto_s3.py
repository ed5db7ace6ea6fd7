"""References for the optional S3 tests (internal/remote/objectstore_test.go and
datasets/objectstore_moto_test.go), from PyPI:
moto (an implementation of S3's API, used by boto's own tests) and botocore (the AWS SDK for
Python). Run with a python3 that has them: pip install 'moto[server]' boto3.

  moto_s3.py serve DIR   serves S3 on a free local port: each folder DIR/BUCKET@REGION becomes a
                         bucket in that region, holding its files under their relative paths (an
                         empty folder, an empty bucket);
                         prints the endpoint URL, then serves until standard input closes.
  moto_s3.py sign        reads one JSON request a line ({"method" (GET when absent), "url",
                         "headers", "body" (text; empty when absent), "time" (Unix seconds), "key",
                         "secret", "region"}) and writes the Authorization header that
                         botocore's S3 signer gives it at that time, a line each.
"""
import datetime
import json
import os
import sys


def serve(root):
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    for entry in sorted(os.listdir(root)):
        bucket, region = entry.split("@")
        s3 = boto3.client("s3", endpoint_url=url, region_name=region,
                          aws_access_key_id="AKIDMOTO", aws_secret_access_key="moto")
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        base = os.path.join(root, entry)
        for folder, _, files in os.walk(base):
            for name in files:
                path = os.path.join(folder, name)
                s3.upload_file(path, bucket, os.path.relpath(path, base))
    print(url, flush=True)
    sys.stdin.read()
    server.stop()


def sign():
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    for line in sys.stdin:
        r = json.loads(line)
        at = datetime.datetime.fromtimestamp(r["time"], datetime.timezone.utc).replace(tzinfo=None)
        botocore.auth.get_current_datetime = lambda: at
        req = AWSRequest(method=r.get("method", "GET"), url=r["url"], headers=r["headers"], data=r.get("body", "").encode())
        creds = Credentials(r["key"], r["secret"], r.get("token") or None)
        botocore.auth.S3SigV4Auth(creds, "s3", r["region"]).add_auth(req)
        print(req.headers["Authorization"], flush=True)


if __name__ == "__main__":
    serve(sys.argv[2]) if sys.argv[1] == "serve" else sign()
