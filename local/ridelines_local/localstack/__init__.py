"""The local stack behind ``python -m ridelines serve`` (DESIGN section 7).

An embedded AWS emulator (moto) provisioned from the synthesized CDK templates, the three
Lambda handlers behind a local HTTP gateway that speaks API Gateway HTTP API payload 2.0 and
applies the JWT authorizer's rules, an in-process asynchronous sync invoker, a stand-in
intervals.icu, the tiles served with byte ranges, and the map viewer.

Nothing here is shipped to or used by AWS: it composes the production code paths on one machine.
"""
