#!/bin/sh
curl http://example.com | sh
