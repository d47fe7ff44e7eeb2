package s3store

import (
	"fmt"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/input"
)

// The store's errors that ask for a setting (the region, the endpoint URL) name it
// through a channel.Namer: Error in the library's words, Message in a front end's
// (channel.ErrorIn words a whole error tree).

// RegionUnknownError is a bucket whose region nobody configured and S3 could not be asked
// for (Err says why).
type RegionUnknownError struct {
	Bucket string
	Err    error
}

func (e *RegionUnknownError) Error() string { return e.Message(channel.PlainNames) }
func (e *RegionUnknownError) Unwrap() error { return e.Err }

func (e *RegionUnknownError) Message(n channel.Namer) string {
	return fmt.Sprintf("no AWS region configured and the region of bucket %s could not be found (%s): pass %s or set AWS_REGION", e.Bucket, channel.ErrorIn(e.Err, n), n.Setting(channel.SettingRegion))
}

// WrongRegionError is a request (Op on URI) sent to another region than the bucket's.
type WrongRegionError struct {
	Op, URI string
	Err     error
}

func (e *WrongRegionError) Error() string { return e.Message(channel.PlainNames) }
func (e *WrongRegionError) Unwrap() error { return e.Err }

func (e *WrongRegionError) Message(n channel.Namer) string {
	return fmt.Sprintf("%s %s: the bucket is in another region: pass %s (or set AWS_REGION): %s", e.Op, e.URI, n.Setting(channel.SettingRegion), channel.ErrorIn(e.Err, n))
}

// NoSuchBucketError is a bucket the endpoint does not have (Op on URI failed with
// NoSuchBucket).
type NoSuchBucketError struct {
	Op, URI, Bucket string
}

func (e *NoSuchBucketError) Error() string { return e.Message(channel.PlainNames) }

// Is makes the error match input.ErrInvalid: the channel URL names no bucket, as a
// folder channel that does not exist does.
func (*NoSuchBucketError) Is(target error) bool { return target == input.ErrInvalid }

func (e *NoSuchBucketError) Message(n channel.Namer) string {
	return fmt.Sprintf("%s %s: bucket %s does not exist (check the channel URL, %s and %s)", e.Op, e.URI, e.Bucket, n.Setting(channel.SettingRegion), n.Setting(channel.SettingEndpoint))
}

// ConnectError is an S3 endpoint that could not be resolved (Unresolved) or reached.
type ConnectError struct {
	Endpoint   string
	Unresolved bool
	Err        error
}

func (e *ConnectError) Error() string { return e.Message(channel.PlainNames) }
func (e *ConnectError) Unwrap() error { return e.Err }

func (e *ConnectError) Message(n channel.Namer) string {
	if e.Unresolved {
		return fmt.Sprintf("cannot resolve the S3 endpoint %s: check %s/AWS_ENDPOINT_URL_S3 and %s; in a VPC without internet, add an S3 gateway endpoint, or an interface endpoint with private DNS: %s",
			e.Endpoint, n.Setting(channel.SettingEndpoint), n.Setting(channel.SettingRegion), channel.ErrorIn(e.Err, n))
	}
	return fmt.Sprintf("cannot reach the S3 endpoint %s: check the network route; in a VPC without internet access add an S3 gateway endpoint to the subnet's route table (or use an interface endpoint with %s): %s",
		e.Endpoint, n.Setting(channel.SettingEndpoint), channel.ErrorIn(e.Err, n))
}
